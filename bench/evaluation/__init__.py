"""Evaluation: inference with a trained model (predictor.py: Predictor), the evaluator, metrics (pure functions),
mesh extraction (mesh.py), mesh metrics (mesh_metrics.py), aggregates and intervals."""
