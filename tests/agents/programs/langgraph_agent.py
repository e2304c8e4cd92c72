"""LangGraph's prebuilt ReAct agent over ``langchain_anthropic.ChatAnthropic``.

``python langgraph_agent.py "What is 17 * 23?"``.
"""

import sys
import warnings

from langchain_anthropic import ChatAnthropic
from langchain_core.tools import tool

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import create_react_agent


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def main(question: str) -> str:
    model = ChatAnthropic(model="claude-sonnet-4-6", max_tokens=512)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = create_react_agent(model, [multiply])
    state = graph.invoke({"messages": [("user", question)]})
    return str(state["messages"][-1].content)


if __name__ == "__main__":
    print(main(sys.argv[1]))
