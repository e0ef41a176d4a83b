"""The Miyabi Telegram bot: an HTTP client of the API acting for linked chats (bot/README.md)."""
