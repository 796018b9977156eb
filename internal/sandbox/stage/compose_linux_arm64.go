package stage

const nrSymlinkat = 36 // linux/arm64
