"""Stage 5: driving the Pulumi engine — `preview`, `up`, `destroy`, `refresh`, `outputs`.

The Plan's program runs inline through the Pulumi Automation API against a
state backend (a local file backend under the project by default). This
package owns everything around that call: which CLI binary and backend to
use (`cli_binary`, `backend`), whether the target is reachable (`preflight`),
provider plugins pinned to the installed SDKs (`plugins`), the stack's
workspace and config (`workspace`), live feedback from engine events
(`progress`), Ctrl-C and protection (`operations`), failures as user-facing
messages with exit codes (`errors`), and the program behind the repository's
own `Pulumi.yaml` (`standalone`).

Importing this package imports no Pulumi module; the modules that need the
SDK import it inside their functions, so `topoform --help` stays fast.
"""

from .errors import EngineError

__all__ = ["EngineError"]
