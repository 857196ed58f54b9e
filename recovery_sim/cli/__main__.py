"""`python -m recovery_sim.cli`: the same app as the `recovery-sim` script."""

from recovery_sim.cli.app import main

main()
