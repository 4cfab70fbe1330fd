"""Moving in: an ISP's clients and subscriptions imported from a CSV or XLSX file, with a dry run first."""
