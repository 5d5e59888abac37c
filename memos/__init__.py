"""MemOS: the memory operating system (what is done with memories).

The package root stays import-light so ``from memos.client import MemOSClient`` needs only httpx and pydantic.
"""

__version__ = "0.1.0"
