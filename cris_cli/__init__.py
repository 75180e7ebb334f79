"""cris-cli: see, drive, script and test CRIS Connect.

CRIS Connect is the JSON-over-WebSocket link between CRIS Reporting and a PACS
image viewer. cris-cli plays the PACS by default and CRIS Reporting on request.
"""

__version__ = "0.1.0"
