"""Development sandbox for the hybrid routing collection: admin API, AWS (moto) and service control.

Dev-only; not part of the Ansible collection.
"""
