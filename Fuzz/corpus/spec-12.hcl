   interval = "2s"
   threshold_down = 2
   