from userrunc.main import main

main()
