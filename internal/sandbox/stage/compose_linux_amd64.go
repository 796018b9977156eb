package stage

const nrSymlinkat = 266 // linux/amd64
