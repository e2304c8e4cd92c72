"""A pydantic-ai ``Agent`` on its Anthropic model. ``python pydantic_ai_agent.py "What is 17 * 23?"``."""

import sys

from pydantic_ai import Agent

agent = Agent("anthropic:claude-sonnet-4-6", instructions="Use the multiply tool.")


@agent.tool_plain
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def main(question: str) -> str:
    return agent.run_sync(question).output


if __name__ == "__main__":
    print(main(sys.argv[1]))
