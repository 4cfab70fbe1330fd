"""FREEFTP: public registration of FTP accounts, the FTP server, the index and search of its files."""
