"""Site health: adoption, silent churn and risk per site and week."""
