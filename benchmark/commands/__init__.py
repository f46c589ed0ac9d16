"""The command line's commands; `cgbench.__main__` parses the arguments.

`train`: the matrix and what retrains or rescores; `tables`: what reads records or files;
`shared`: what both need.
"""
