import app.legacy
