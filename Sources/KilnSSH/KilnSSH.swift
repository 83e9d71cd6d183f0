import NIOSSH
