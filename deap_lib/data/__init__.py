"""Data: DEAP's files (read as data, never executed), the synthetic twin, the reduction, labels, the prepared dataset."""
