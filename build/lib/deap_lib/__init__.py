"""deap_lib: the library behind the DEAP DNN/CNN literate report.

Modules, one per concern: ``io`` (reading real DEAP), ``synthetic`` (the DEAP twin),
``features`` (reduction to 32 x 99), ``labels``, ``dataset`` (prepared, cached features),
``models``, ``training``, ``splits``, ``stats``, ``config``, ``cli``.
"""

__version__ = "0.1.0"
