broker "amqps://grove:pw@mq.example:5671/grove?cacertfile=/etc/grove/ca.pem&verify=verify_peer"
worker "w1" { secret = "s", tags = { "linux", "gpu" }, capacity = 4 }
builder "b" { tags = { "gpu" }, steps = { shell { "nvidia-smi" } } }
