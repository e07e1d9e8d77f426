from deap_lib.cli import main

raise SystemExit(main())
