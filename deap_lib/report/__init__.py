"""The report: what each chapter computes, its words, tables and figures, the source report's numbers, the book driver."""
