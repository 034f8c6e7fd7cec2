"""Model clients: the ``LLMClient`` protocol, the Anthropic client and its wire
format, the retry policy, the shared rate limiter, prices, the metered client
and its call journal.
"""
