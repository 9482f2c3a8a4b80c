print("flywall")
