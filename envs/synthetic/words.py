"""Vocabulary for labels and instructions: words, file names, colours and shapes."""

# Short, everyday UI and desktop words (lower case, <= 9 letters so they fit a 224-px button).
LABELS = tuple(
    """
    save open close cancel submit search send print delete edit copy paste undo redo share export
    import upload download refresh reload settings options help about profile account login logout
    signup next back previous continue finish start stop pause play resume retry skip apply reset
    clear filter sort rename move archive restore update install remove add create new compose reply
    forward attach browse select confirm accept decline allow deny block report invite join leave
    follow like bookmark pin unpin zoom rotate crop resize align bold italic underline insert format
    view layout preview publish draft schedule sync backup connect detach mute unmute record capture
    scan upgrade verify approve reject merge split lock unlock hide show expand collapse toggle enable
    disable inbox outbox spam trash notes music photos videos movies games maps weather news sports
    finance travel health fitness recipes books library calendar contacts clock timer alarm camera
    gallery files folders documents desktop network bluetooth wifi battery display sound keyboard
    mouse printer storage memory privacy security updates language region theme fonts colors
    wallpaper home garden kitchen office school work family friends party dinner lunch budget invoice
    receipt order cart checkout payment shipping returns coupons wishlist reviews ratings orders
    tickets events meetings tasks projects reports charts tables slides sheets forms surveys polls
    chat calls voicemail messages alerts status history favorites recent trending explore discover
    market store shop deals offers rewards points wallet bank transfer deposit withdraw loan tax
    apple banana cherry grape lemon mango orange peach pear plum tiger zebra panda koala eagle
    falcon otter river ocean forest desert island valley canyon meadow planet galaxy comet rocket
    """.split()
)

FILE_STEMS = tuple(
    """
    report notes budget resume photo invoice draft slides summary letter plan memo data backup
    thesis poster agenda minutes contract song video diagram sketch recipe journal log scores
    """.split()
)
FILE_EXTENSIONS = ("txt", "pdf", "png", "doc", "csv", "zip", "mp3", "jpg")

FOLDER_NAMES = tuple(
    """
    Documents Photos Music Videos Projects Archive Downloads Work School Taxes Travel Recipes
    Invoices Backups Drafts Shared Games Books Notes Personal
    """.split()
)

# Named colours with RGB values far enough apart to tell apart on either theme.
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 90, 220),
    "yellow": (235, 200, 30),
    "orange": (240, 130, 20),
    "purple": (140, 60, 190),
    "pink": (240, 110, 180),
    "cyan": (30, 190, 210),
    "brown": (130, 80, 40),
    "gray": (128, 128, 128),
}
