"""NVM Express: the ``nvme`` PCI controller (ctrl.py) and its ``nvme-ns`` namespaces (ns.py)."""
