"""Reading QR images back with a real decoder (zxing-cpp), as a phone would."""

from __future__ import annotations

import zxingcpp
from PIL import Image


def decode_qr(image: Image.Image) -> list[str]:
    """The texts of the QR codes in the image.

    QR codes only: asked for every format, zxing-cpp now and then also "finds" a short linear
    barcode (6 to 18 digits) in the modules of a dense QR, next to the right QR text (4 images in
    800 here), which made tests fail at random.
    """
    return [
        found.text
        for found in zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
        )
    ]
