"""Code shared by every service: settings, logging, ops HTTP endpoints and backend connections.

Nothing service-specific belongs here.
"""
