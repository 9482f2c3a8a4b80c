   mode = "balance"  # Not "failover"
   