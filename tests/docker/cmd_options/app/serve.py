import app.main

print('served')
