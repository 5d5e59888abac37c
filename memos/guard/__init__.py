"""The memory guard: screen writes, quarantine and review, check what reaches a context, learn from rejections."""
