"""Staff management: who holds administrator or help-desk standing (the Cognito staff groups), and changing it."""
