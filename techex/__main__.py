from techex.cli import main

main()
