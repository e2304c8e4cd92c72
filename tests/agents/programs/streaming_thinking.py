"""An async streaming loop with extended thinking, prompt caching and ``count_tokens`` first.

``python streaming_thinking.py "What is 17 * 23?"``.
"""

import asyncio
import sys

import anthropic

MODEL = "claude-sonnet-4-6"
SYSTEM = [{"type": "text", "text": "You are a careful calculator.", "cache_control": {"type": "ephemeral"}}]
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


async def main(question: str) -> str:
    client = anthropic.AsyncAnthropic()
    messages = [{"role": "user", "content": question}]
    counted = await client.messages.count_tokens(model=MODEL, system=SYSTEM, tools=TOOLS, messages=messages)
    if counted.input_tokens > 100_000:
        return "too long"
    while True:
        async with client.messages.stream(
            model=MODEL,
            max_tokens=2048,
            system=SYSTEM,
            tools=TOOLS,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=messages,
        ) as stream:
            async for _ in stream:
                pass
            reply = await stream.get_final_message()
        messages.append({"role": "assistant", "content": reply.content})
        if reply.stop_reason != "tool_use":
            await client.close()
            return "".join(block.text for block in reply.content if block.type == "text")
        results = [
            {"type": "tool_result", "tool_use_id": block.id, "content": str(block.input["a"] * block.input["b"])}
            for block in reply.content
            if block.type == "tool_use"
        ]
        messages.append({"role": "user", "content": results})


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
