from lode.cli import main

raise SystemExit(main())
