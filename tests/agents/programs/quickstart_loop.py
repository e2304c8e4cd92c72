"""The agent loop of Anthropic's quickstarts: a module-level client, a tool, a loop until ``end_turn``.

Unmodified for tracefork: the client is built at import (before any ``instrument()``), the
key and base URL come from the environment. ``python quickstart_loop.py "What is 17 * 23?"``.
"""

import sys

import anthropic

client = anthropic.Anthropic()
MODEL = "claude-sonnet-4-6"
TOOLS = [
    {
        "name": "multiply",
        "description": "Multiply two integers.",
        "input_schema": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    }
]


def multiply(a: int, b: int) -> int:
    return a * b


def main(question: str) -> str:
    messages = [{"role": "user", "content": question}]
    while True:
        reply = client.messages.create(model=MODEL, max_tokens=512, tools=TOOLS, messages=messages)
        messages.append({"role": "assistant", "content": reply.content})
        if reply.stop_reason != "tool_use":
            return "".join(block.text for block in reply.content if block.type == "text")
        results = [
            {"type": "tool_result", "tool_use_id": block.id, "content": str(multiply(**block.input))}
            for block in reply.content
            if block.type == "tool_use"
        ]
        messages.append({"role": "user", "content": results})


if __name__ == "__main__":
    print(main(sys.argv[1]))
