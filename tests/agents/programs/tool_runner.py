"""The SDK's own tool runner (``client.beta.messages.tool_runner``), which keeps the conversation on the
server (message threads) on anthropic >= 2.15. ``python tool_runner.py "What is 17 * 23?"``.
"""

import sys

import anthropic
from anthropic import beta_tool


@beta_tool
def multiply(a: int, b: int) -> str:
    """Multiply two integers.

    Args:
        a: the first factor.
        b: the second factor.
    """
    return str(a * b)


def main(question: str) -> str:
    client = anthropic.Anthropic()
    runner = client.beta.messages.tool_runner(
        model="claude-sonnet-4-6",
        max_tokens=512,
        tools=[multiply],
        messages=[{"role": "user", "content": question}],
    )
    final = runner.until_done()
    return "".join(block.text for block in final.content if block.type == "text")


if __name__ == "__main__":
    print(main(sys.argv[1]))
