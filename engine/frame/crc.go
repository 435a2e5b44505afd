package frame

// Ogg's CRC-32: polynomial 0x04C11DB7, MSB first (not reflected), initial
// value 0, no final XOR. Computed slicing-by-8 because every Ogg byte a
// source sends passes through it.

type crcTables [8][256]uint32

var oggCRC = makeCRCTables() // read-only after package initialisation

func makeCRCTables() *crcTables {
	t := new(crcTables)
	for i := range 256 {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[0][i] = r
	}
	for k := 1; k < 8; k++ {
		for i := range 256 {
			p := t[k-1][i]
			t[k][i] = p<<8 ^ t[0][p>>24]
		}
	}
	return t
}

// UpdateOggCRC returns crc (0 to start) extended by p with Ogg's CRC-32, so
// a page can be checked as it arrives in pieces. It does not allocate.
func UpdateOggCRC(crc uint32, p []byte) uint32 {
	t := oggCRC
	for len(p) >= 8 {
		x := crc ^ (uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3]))
		crc = t[7][x>>24] ^ t[6][x>>16&0xFF] ^ t[5][x>>8&0xFF] ^ t[4][x&0xFF] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc<<8 ^ t[0][byte(crc>>24)^b]
	}
	return crc
}

// OggPageCRC returns the CRC-32 of an Ogg page, counting its own CRC field
// (bytes 22 to 25) as zero, as the checksum is defined: for a whole page,
// compare it with that field; for a page header alone, continue over the
// body with UpdateOggCRC. page must hold at least the 27-byte header. It
// does not allocate.
func OggPageCRC(page []byte) uint32 {
	crc := UpdateOggCRC(0, page[:22])
	crc = UpdateOggCRC(crc, zeroCRCField[:])
	return UpdateOggCRC(crc, page[26:])
}

var zeroCRCField [4]byte
