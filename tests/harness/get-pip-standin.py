"""What ansible-test runs in place of pip's get-pip.py, whose download host this kind of machine cannot reach.

ansible-test bootstraps pip in each virtualenv it makes with a get-pip script, which it downloads once into
~/.ansible/test/cache; tests/harness/sanity.sh puts this file there instead. It takes pip from the interpreter's
own ensurepip, then has pip install what ansible-test asked for (get-pip's own --no-setuptools and --no-wheel
dropped), trusting the system's certificate bundle as the rest of the harness does.
"""

import ensurepip
import runpy
import sys

ensurepip.bootstrap()
wanted = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--cert", "/etc/ssl/certs/ca-certificates.crt", *wanted]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
