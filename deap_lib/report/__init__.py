"""The report: each chapter's computation, words, tables and figures, the source report's numbers, the book driver."""
