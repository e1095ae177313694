"""Summary backends (anthropic, openai_compat, extractive) and the checks every summary passes.

The workflow that ties them to articles lives in `services.py`; see docs/summaries.md.
"""
