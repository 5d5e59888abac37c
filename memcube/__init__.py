"""MemCube: the data model of MemOS (what a memory is and how it is stored).

Importing this package is cheap: the SDK uses ``memcube.schemas`` without SQLAlchemy.
"""
