from abdb.cli.app import main

main()
