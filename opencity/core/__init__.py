from opencity.core.refusals import Refused

__all__ = ["Refused"]
