"""The services' exceptions and the words they share: every domain raises these, the views catch them."""

NOT_ALLOWED = "Not allowed."
INTERRUPTED = "Interrupted before it finished ({reason})."


class ServiceError(Exception):
    """A write refused or failed, with a message for people."""

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ServiceError):
    """Input the portal refuses before Cognito sees it."""
