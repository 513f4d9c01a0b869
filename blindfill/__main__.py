from blindfill.cli import run

run()
