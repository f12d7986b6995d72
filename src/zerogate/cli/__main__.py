"""`python -m zerogate.cli`: the same as the `zerogate` console script."""

from zerogate.cli import main

main()
