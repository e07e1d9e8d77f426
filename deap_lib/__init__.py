"""deap_lib: the library behind the DEAP DNN/CNN literate report, in layers (``ARCHITECTURE.md``).

``data/`` (readers, twins, features, labels, the prepared dataset), ``evaluation/`` (numbers in, numbers out),
``experiment/`` (settings, splits, the training loop, protocols, where runs execute), ``report/`` (chapters,
pages, figures, the book driver); ``models``, ``store`` (the cache), ``fingerprint`` (of the code) and ``cli``.
"""

__version__ = "0.1.0"
