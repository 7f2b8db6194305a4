"""Modules loaded on first use: what keeps scipy, SimpleITK, pydicom, pyradiomics, pandas, lifelines, scikit-learn
and matplotlib out of a web process's start-up (most requests never need them; importing them costs each worker
~250 MB, 180,000 objects for the garbage collector to walk, and a second or more before its first answer)."""
import importlib.util
import sys


def lazy_import(name):
    """The module ``name``, executed only when one of its attributes is first used (``importlib.util.LazyLoader``).

    Use it for a module-level name (``pd = lazy_import("pandas")``, ``volume = lazy_import("imaging.compute.volume")``)
    and write ``pd.DataFrame`` at the call site; a ``from module import name`` would load it at once.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:  # as the import system does: the package's attribute names its submodule
        setattr(sys.modules[parent], child, module)
    return module
