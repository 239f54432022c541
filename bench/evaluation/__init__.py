"""Evaluation: metrics (pure functions), mesh extraction, surface metrics, and the evaluator."""
