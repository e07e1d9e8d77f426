"""Evaluation: chance levels, intervals and tests, and what runs say as numbers."""
