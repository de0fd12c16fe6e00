def notify(message: str) -> None:
    print(f"slack: {message}")
